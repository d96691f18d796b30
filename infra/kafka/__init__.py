"""The Kafka side shared by gateway and connectors: topics, clients, embedded broker, dead letters."""
