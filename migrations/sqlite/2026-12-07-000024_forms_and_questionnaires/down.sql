DROP TABLE attribute_history;
DROP TABLE form_submissions;
DROP TABLE form_links;
DROP TABLE form_definitions;
