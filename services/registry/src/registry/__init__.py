"""medaid registry service: households, persons and their poverty / assistance status over
time (动态管理)."""
