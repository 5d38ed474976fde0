DROP TABLE customer_predictions;
DROP TABLE prediction_state;
