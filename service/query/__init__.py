"""Read paths: the shared query path (resolve, catch up, filter, rank, hydrate), search / compare / hybrid, word and token queries, fusion, recommendations."""
