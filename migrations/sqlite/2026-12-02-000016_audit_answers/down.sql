DROP TABLE audit_answers;
