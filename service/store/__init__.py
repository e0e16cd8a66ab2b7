"""SQL, the source of truth: engine and sessions, models, migrations check, repositories, stored and given vectors, the corpus and interaction readers, row -> schema views."""
