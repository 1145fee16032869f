"""medaid shared package: cross-cutting code only."""
