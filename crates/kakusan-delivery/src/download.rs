//! Attachment download: the files of a member's message, fetched to be uploaded again.

use twilight_model::http::attachment::Attachment;

use crate::payload::SendPayload;

/// Fetches attachments from Discord's CDN, up to the upload limit.
pub(crate) struct Downloads {
    client: reqwest::Client,
    /// Files up to this size are re-uploaded; larger ones are linked.
    upload_limit: u64,
}

impl Downloads {
    /// Downloads of files up to `upload_limit` bytes.
    pub(crate) fn new(upload_limit: u64) -> Self {
        Downloads {
            client: reqwest::Client::new(),
            upload_limit,
        }
    }

    /// The files of a message to upload again, and its text with links to those that cannot
    /// be (too large, or no longer downloadable).
    pub(crate) async fn files(&self, payload: &SendPayload) -> (String, Vec<Attachment>) {
        let mut content = payload.content.clone();
        let mut files = Vec::new();
        for (index, attachment) in payload.attachments.iter().enumerate() {
            match self
                .download(attachment.url.as_str(), attachment.size)
                .await
            {
                Some(bytes) => files.push(Attachment::from_bytes(
                    attachment.filename.clone(),
                    bytes,
                    index as u64,
                )),
                None => {
                    content.push('\n');
                    content.push_str(&attachment.url);
                }
            }
        }
        (content, files)
    }

    /// Downloads a file of at most the upload limit; `None` for larger or unreachable files.
    async fn download(&self, url: &str, size: u64) -> Option<Vec<u8>> {
        if size > self.upload_limit {
            return None;
        }
        let response = self
            .client
            .get(url)
            .send()
            .await
            .ok()?
            .error_for_status()
            .ok()?;
        let bytes = response.bytes().await.ok()?;
        (bytes.len() as u64 <= self.upload_limit).then(|| bytes.to_vec())
    }
}
