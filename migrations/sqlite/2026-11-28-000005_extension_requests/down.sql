DROP TABLE extension_requests;
