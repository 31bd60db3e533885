"""Test tooling: brokers (Apache Kafka via Maven), helpers shared by tests and benchmarks."""
