//! The HTTP semantic-convention attribute names tracewire-http records.

/// `http.request.method`.
pub const REQUEST_METHOD: &str = "http.request.method";
/// `http.route`: the matched route template (`/orders/{id}`).
pub const ROUTE: &str = "http.route";
/// `http.response.status_code`.
pub const RESPONSE_STATUS_CODE: &str = "http.response.status_code";
/// `url.path`.
pub const URL_PATH: &str = "url.path";
/// `url.full` (client spans).
pub const URL_FULL: &str = "url.full";
/// `server.address`.
pub const SERVER_ADDRESS: &str = "server.address";
/// `server.port`.
pub const SERVER_PORT: &str = "server.port";
