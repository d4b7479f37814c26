"""System administration: organisations, users, cycles, projects, failed deliveries."""
