"""The failover drill: disrupt the primary (scenarios), detect it (detection), probe writes
throughout (probe), measure RTO/RPO (measure), and run it all (drill)."""
