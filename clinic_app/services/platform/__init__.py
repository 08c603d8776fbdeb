"""What every area stands on: accounts and sessions, permissions, audit, errors, clock, limits, backup, the demo clinic."""
