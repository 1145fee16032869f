"""medaid settlement service: one-stop settlement (一站式结算) of hospital bills."""
