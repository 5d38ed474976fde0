DROP TABLE unsubscribe_tokens;
DROP TABLE confirmation_tokens;
DROP TABLE enquiries;
DROP TABLE messages;
