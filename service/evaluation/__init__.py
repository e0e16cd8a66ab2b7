"""Evaluation of a collection's spaces: retrieval, document similarity, word similarity and analogies.

``metrics`` is pure (numpy/scipy), ``formats`` parses the standard data set
files, ``runner`` runs a task through the service's own query path and stores
the result in the ``evaluations`` table.
"""
