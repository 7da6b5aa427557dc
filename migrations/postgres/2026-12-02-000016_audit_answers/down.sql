DROP TABLE audit_answers;
DROP FUNCTION audit_answers_append_only();
