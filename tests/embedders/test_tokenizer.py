"""The shared tokenizer: what a "word" is, in any script."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from embedders.tokenizer import CONTENT_WORDS_KEPT, ENGLISH_STOPWORDS, GENSIM_STOPWORDS, Tokenizer, TokenizerSpec


def tok(text: str, **spec: object) -> list[str]:
    return Tokenizer(TokenizerSpec(**spec)).tokenize(text)


def test_english_words_lowercased_punctuation_dropped() -> None:
    assert tok("Hello, World! The fire-fighters (NSW) arrived.") == [
        "hello", "world", "the", "fire-fighters", "nsw", "arrived",
    ]


def test_apostrophes_possessives_and_numbers() -> None:
    assert tok("Don't panic: Sydney's 3.5% rise cost $1,000.") == [
        "don't", "panic", "sydney", "3.5", "rise", "cost", "1,000",
    ]
    assert tok("Sydney's", strip_possessive=False) == ["sydney's"]
    # Curly apostrophes are the same apostrophe.
    assert tok("don\u2019t") == tok("don't")
    # A trailing full stop is not a decimal point.
    assert tok("in 2001. Then") == ["in", "2001", "then"]


def test_hyphens_kept_or_split() -> None:
    assert tok("state-of-the-art south-west") == ["state-of-the-art", "south-west"]
    assert tok("state-of-the-art south-west", split_hyphens=True) == ["state", "of", "the", "art", "south", "west"]
    assert tok("-dash- --") == ["dash"]


def test_underscores_separate_words() -> None:
    assert tok("snake_case_name") == ["snake", "case", "name"]


def test_chinese_is_segmented_with_jieba() -> None:
    assert tok("我爱北京天安门") == ["我", "爱", "北京", "天安门"]
    tokens = tok("今天天气很好，我们去公园散步。")
    assert "公园" in tokens and "散步" in tokens
    assert "，" not in tokens and "。" not in tokens


def test_chinese_without_segmentation_gives_characters() -> None:
    assert tok("北京大学", segment_cjk=False) == ["北", "京", "大", "学"]


def test_mixed_chinese_english_and_numbers() -> None:
    tokens = tok("Python是一种编程语言, used by 1000万 people in 2023年.")
    assert tokens[0] == "python"
    assert "是" in tokens
    assert "编程语言" in tokens or {"编程", "语言"} <= set(tokens)
    assert ["used", "by", "1000", "万", "people", "in", "2023", "年"] == tokens[-8:]


def test_other_scripts_keep_combining_marks() -> None:
    # Devanagari vowel signs are combining marks, which Python's \w does not match.
    assert tok("नमस्ते दुनिया") == ["नमस्ते", "दुनिया"]
    assert tok("Привет, МИР!") == ["привет", "мир"]
    assert tok("مرحبا بالعالم") == ["مرحبا", "بالعالم"]
    assert tok("café naïve") == ["café", "naïve"]


def test_nfkc_normalisation() -> None:
    assert tok("ＦＵＬＬＷＩＤＴＨ ＡＢＣ１２３") == ["fullwidth", "abc123"]
    assert tok("ﬁle") == ["file"]  # ligature
    # Decomposed and composed accents give the same token.
    assert tok("cafe\u0301") == tok("caf\u00e9") == ["café"]


def test_casefold_and_case_preserving() -> None:
    assert tok("Straße STRASSE") == ["strasse", "strasse"]
    assert tok("New York", lowercase=False) == ["New", "York"]


def test_english_stopwords() -> None:
    assert tok("The cat sat on the mat", stopwords="english") == ["cat", "sat", "mat"]
    # Stop words match whatever the case, even when case is preserved.
    assert tok("The Cat", stopwords="english", lowercase=False) == ["Cat"]
    assert tok("the", stopwords="none") == ["the"]


def test_custom_stopwords_are_normalised() -> None:
    spec = TokenizerSpec(stopwords=["CAT", "ＭＡＴ"])
    assert spec.stopwords == ["cat", "mat"]
    assert Tokenizer(spec).tokenize("The cat sat on the mat") == ["the", "sat", "on", "the"]


def test_length_and_number_filters() -> None:
    assert tok("a bb ccc", min_length=2) == ["bb", "ccc"]
    assert tok("x" * 70 + " ok") == ["ok"]
    assert tok("in 2001 and 3.5 or 1,000 times", numbers=False) == ["in", "and", "or", "times"]


def test_empty_and_symbol_only_text() -> None:
    assert tok("") == []
    assert tok("  \n\t ") == []
    assert tok("!!! --- ... ???") == []


def test_stopword_list_is_gensims_without_content_words() -> None:
    from gensim.parsing.preprocessing import STOPWORDS

    assert GENSIM_STOPWORDS == frozenset(STOPWORDS)
    assert CONTENT_WORDS_KEPT < GENSIM_STOPWORDS
    assert ENGLISH_STOPWORDS == GENSIM_STOPWORDS - CONTENT_WORDS_KEPT
    assert tok("the fire in the computer system", stopwords="english") == ["fire", "computer", "system"]


def test_spec_validation() -> None:
    with pytest.raises(ValidationError):
        TokenizerSpec(min_length=0)
    with pytest.raises(ValidationError):
        TokenizerSpec(stopwords="french")
    with pytest.raises(ValidationError):
        TokenizerSpec(min_length=5, max_length=3)
    with pytest.raises(ValidationError):
        TokenizerSpec(surprise=True)
    spec = TokenizerSpec()
    with pytest.raises(ValidationError):
        spec.lowercase = False  # type: ignore[misc]
    assert TokenizerSpec.model_validate(spec.model_dump()) == spec


# --- Chinese: stop words and a space's own dictionary ---------------------------------------------


def test_chinese_stopwords_drop_function_words_only() -> None:
    text = "词向量是语言模型的基础，我们和你了解了。"
    kept = Tokenizer(TokenizerSpec(stopwords="chinese")).tokenize(text)
    everything = Tokenizer().tokenize(text)
    for function_word in ("是", "的", "和", "了", "我们"):
        assert function_word in everything and function_word not in kept
    assert {"向量", "语言", "模型", "基础"} <= set(kept)


def test_english_plus_chinese_stopwords() -> None:
    tokens = Tokenizer(TokenizerSpec(stopwords="english+chinese")).tokenize("The model 的 基础 of words")
    assert tokens == ["model", "基础", "words"]


def test_user_words_are_kept_whole_longest_first() -> None:
    text = "大语言模型和语言模型都用词向量。"
    assert "词向量" not in Tokenizer().tokenize(text)  # jieba's own dictionary splits it: the reason for user words
    spec = TokenizerSpec(user_words=["语言模型", "大语言模型", "词向量"])
    tokens = Tokenizer(spec).tokenize(text)
    assert tokens[0] == "大语言模型" and "语言模型" in tokens and "词向量" in tokens
    assert "".join(tokens) == "大语言模型和语言模型都用词向量"  # nothing lost between the user words


def test_user_words_do_not_leak_into_other_tokenizers() -> None:
    Tokenizer(TokenizerSpec(user_words=["词向量"])).tokenize("词向量")
    assert "词向量" not in Tokenizer().tokenize("训练词向量")  # jieba's process-wide dictionary untouched


def test_user_words_are_validated_and_normalised() -> None:
    spec = TokenizerSpec(user_words=["词向量", " 词向量 ", "大语言模型"])
    assert spec.user_words == ["大语言模型", "词向量"]  # NFKC, stripped, deduplicated, sorted: one stored form
    with pytest.raises(ValidationError, match=r"user_words\[1\]"):
        TokenizerSpec(user_words=["词向量", "word2vec"])
    with pytest.raises(ValidationError, match=r"user_words\[0\]"):
        TokenizerSpec(user_words=[""])


def test_search_mode_also_emits_the_words_inside_long_ones() -> None:
    assert tok("关羽败走麦城") == ["关羽", "败走麦城"]
    search = tok("关羽败走麦城", segment_mode="search")
    assert {"败走", "麦城", "败走麦城"} <= set(search) and search[0] == "关羽"
    assert tok("词向量模型", segment_mode="search", user_words=["词向量"])[0] == "词向量"  # user words stay whole
