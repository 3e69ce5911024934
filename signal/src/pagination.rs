use securecam_storage::{Cursor, PageRequest};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::ApiError;

/// `?limit=&cursor=` of every list endpoint.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Items per page, 1 to 200 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl ListQuery {
    pub fn page(&self) -> Result<PageRequest, ApiError> {
        let limit = self.limit.unwrap_or(PageRequest::DEFAULT_LIMIT);
        if limit == 0 || limit > PageRequest::MAX_LIMIT {
            return Err(ApiError::invalid(format!(
                "limit must be between 1 and {}",
                PageRequest::MAX_LIMIT
            )));
        }
        let after =
            match self.cursor.as_deref() {
                None | Some("") => None,
                Some(text) => Some(Cursor::decode(text).ok_or_else(|| {
                    ApiError::bad_request("invalid_cursor", "cursor is not valid")
                })?),
            };
        Ok(PageRequest { limit, after })
    }
}
