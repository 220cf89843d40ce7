DROP TABLE exporters;
DROP TABLE projects;
DROP TABLE farm_hosts;
DROP TABLE farms;
DROP TABLE services;
DROP TABLE shards;
