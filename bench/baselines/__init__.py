"""What the gateway is measured against, in the same run: the old design and two ceilings."""
