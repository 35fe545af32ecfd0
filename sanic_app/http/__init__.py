"""HTTP handlers, one module per API family; each stays glue around the pipeline."""
