"""Operations beside the request path: logging, metrics, profiling, admission, memory, run modes."""
