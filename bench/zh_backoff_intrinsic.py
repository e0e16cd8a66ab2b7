"""Corpus-only check of back-off rules: pretend an in-vocabulary Han word of 2+ chars is unknown,
back off to its pieces, and see how close the pieces' weighted mean lands to the word's own vector."""
import json, sys
import numpy as np
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))
from embedders import ListCorpus, Word2VecEmbedder, Word2VecSpec
from embedders.cjk import known_pieces, search_pieces, is_han_word

corpus = [json.loads(l) for l in open(str(__import__("pathlib").Path(__file__).resolve().parent / "data" / "zh_eval" / "corpus.jsonl"), encoding="utf-8")]
lc = ListCorpus(enumerate(r["text"] for r in corpus))
out = {}
for seed in (1, 2, 3):
    m = Word2VecEmbedder(Word2VecSpec(workers=1, seed=seed)).fit(lc)
    p = m._state()
    V = p.vectors / np.linalg.norm(p.vectors, axis=1, keepdims=True)
    def words_first(w, known):
        ps = known_pieces(w, known)
        multi = [x for x in ps if len(x) > 1]
        return multi or ps
    rules = {"pieces": known_pieces, "search": search_pieces, "pieces_words_first": words_first}
    for minlen in (2, 3):
        words = [w for w in p.words if len(w) >= minlen and is_han_word(w)]
        for name, rule in rules.items():
            cos, ranks, covered = [], [], 0
            for w in words:
                known = {k: v for k, v in p.key_to_index.items()}
                ps = [x for x in rule(w, p.key_to_index) if x != w]
                if not ps:
                    continue
                covered += 1
                idx = np.array([p.key_to_index[x] for x in ps])
                vec = (p.weights[idx, None] * p.vectors[idx]).sum(0)
                vec /= np.linalg.norm(vec)
                sims = V @ vec
                i = p.key_to_index[w]
                cos.append(float(sims[i]))
                ranks.append(int((sims > sims[i]).sum()) + 1)
            key = f"seed{seed}_len>={minlen}_{name}"
            out[key] = dict(words=len(words), covered=covered, mean_cos=round(float(np.mean(cos)), 4),
                            mrr=round(float(np.mean([1 / r for r in ranks])), 4), median_rank=float(np.median(ranks)))
            print(key, out[key], flush=True)
json.dump(out, open(__import__("pathlib").Path(__file__).resolve().parent / "results" / "zh_backoff_intrinsic.json", "w"), indent=1)
