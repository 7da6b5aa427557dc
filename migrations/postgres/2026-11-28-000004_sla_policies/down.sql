DROP TABLE sla_rules;
