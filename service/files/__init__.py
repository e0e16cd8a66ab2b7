"""Reading ingest files (documents, interactions) line by line, with errors as FILE:LINE values."""
