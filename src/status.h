/* status.h: request outcomes; the values are the HTTP status codes they become */
#ifndef STATUS_H
#define STATUS_H

enum status {
	ST_OK = 200,
	ST_BAD_REQUEST = 400,
	ST_UNAUTHORIZED = 401,
	ST_BAD_METHOD = 405,
	ST_TIMEOUT = 408,
	ST_TOO_LARGE = 413,
	ST_SERVER_ERROR = 500,
	ST_UNAVAILABLE = 503,
};

#endif
