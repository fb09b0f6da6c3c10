//! Reading message bodies: JSON or `multipart/form-data` with `payload_json` and `files[n]`, as
//! in "Reference: Uploading Files", into the world's [`MessageInput`].

use axum::{
    body::{Body, Bytes},
    extract::{FromRequest, Multipart},
    http::{HeaderMap, Request, header},
};
use serde_json::Value;

use crate::error::ApiError;
use crate::world::{MessageInput, Upload};

impl MessageInput {
    /// Reads a JSON or multipart body.
    pub(crate) async fn read(headers: &HeaderMap, bytes: Bytes) -> Result<Self, ApiError> {
        let content_type = super::content_type(headers);
        if !content_type.starts_with("multipart/form-data") {
            let payload = super::json_body(&bytes)?;
            if !payload.is_object() {
                return Err(ApiError::invalid_json());
            }
            return Ok(Self {
                payload,
                uploads: Vec::new(),
            });
        }
        let request = Request::builder()
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(bytes))
            .map_err(|_| ApiError::invalid_json())?;
        let mut multipart = Multipart::from_request(request, &())
            .await
            .map_err(|_| ApiError::invalid_json())?;
        let mut payload = Value::Object(Default::default());
        let mut uploads = Vec::new();
        while let Some(field) = multipart
            .next_field()
            .await
            .map_err(|_| ApiError::invalid_json())?
        {
            let name = field.name().unwrap_or_default().to_owned();
            let filename = field.file_name().map(str::to_owned);
            let field_type = field.content_type().map(str::to_owned);
            let data = field.bytes().await.map_err(|_| ApiError::invalid_json())?;
            if name == "payload_json" {
                payload = serde_json::from_slice(&data).map_err(|_| ApiError::invalid_json())?;
            } else if let Some(index) = name
                .strip_prefix("files[")
                .and_then(|r| r.strip_suffix(']'))
                .and_then(|n| n.parse::<u64>().ok())
            {
                uploads.push(Upload {
                    index,
                    filename: filename.unwrap_or_else(|| format!("file{index}")),
                    content_type: field_type,
                    data: data.to_vec(),
                });
            } else if let Some(filename) = filename {
                // Older clients send `file` or `file1`; Discord still accepts any file field.
                let index = uploads.len() as u64;
                uploads.push(Upload {
                    index,
                    filename,
                    content_type: field_type,
                    data: data.to_vec(),
                });
            } else if let Ok(text) = std::str::from_utf8(&data) {
                // Plain form fields (`content=...`) are accepted alongside files.
                payload[name] = Value::String(text.to_owned());
            }
        }
        Ok(Self { payload, uploads })
    }
}
