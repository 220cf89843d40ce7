DROP TABLE deployment_hosts;
DROP TABLE deployments;
DROP TABLE deploy_hosts;
