"""Moving a collection between vecdex instances: one streaming file (export) read back elsewhere (import).

- :mod:`.format`: the file format (JSON Lines, gzip optional): typed records, the
  running checksum, the reader that refuses a truncated, damaged or newer file.
- :mod:`.exporter`: a collection read from SQL in pages and written as records as it goes.
- :mod:`.importer`: a file checked whole first, then written in batches through the
  normal write path; re-runnable (``resume``) after an interruption.
- :mod:`.install`: a space made ready from the model files and stored vectors that
  travelled with it, without training or embedding.

The facade's :class:`~service.facade.transfer.Transfer` group is the only caller.
"""
