DROP INDEX heal_runs_time;
DROP TABLE heal_runs;
