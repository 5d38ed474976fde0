DROP TABLE background_leases;
