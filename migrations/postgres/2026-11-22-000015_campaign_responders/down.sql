DROP TABLE campaign_response_counts;
DROP TABLE campaign_responders;
