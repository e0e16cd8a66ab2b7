"""Spaces at run time: loaded embedder + index kept in step with the change log, builds and rebuilds, the job queue and worker, the one vector pipeline, progress sinks, space administration."""
