"""Process assembly: roles composed into one process, the API inside a worker, embedded services."""
