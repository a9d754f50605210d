"""The edge's state: the recorder in each worker and the one writer process per host."""
