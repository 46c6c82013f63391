"""pyoci vs runc vs crun benchmarks: `sudo benchmarks/run.sh` (see README.md)."""
