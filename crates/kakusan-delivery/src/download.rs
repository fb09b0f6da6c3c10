//! Attachment download: the files of a member's message, fetched to be uploaded again.

use twilight_model::http::attachment::Attachment;

use crate::config::DeliveryConfig;
use crate::payload::SendPayload;

/// Fetches attachments from Discord's CDN, up to the upload limit.
pub(crate) struct Downloads {
    client: reqwest::Client,
    /// Files up to this size are re-uploaded; larger ones are linked.
    upload_limit: u64,
    /// The only hosts files are fetched from.
    hosts: Vec<String>,
}

impl Downloads {
    /// Downloads as `config` says: its upload limit, hosts and time-out.
    pub(crate) fn new(config: &DeliveryConfig) -> Self {
        Downloads {
            client: reqwest::Client::builder()
                .timeout(config.download_timeout)
                // A redirect could lead anywhere; Discord's CDN does not redirect.
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default(),
            upload_limit: config.upload_limit,
            hosts: config.download_hosts.clone(),
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

    /// Downloads a file of at most the upload limit from an allowed host; `None` for larger,
    /// unreachable or foreign files (they are linked instead). The body is read chunk by
    /// chunk and dropped as soon as it passes the limit, whatever size the message claimed.
    async fn download(&self, url: &str, size: u64) -> Option<Vec<u8>> {
        if size > self.upload_limit || !self.allowed(url) {
            return None;
        }
        let mut response = self
            .client
            .get(url)
            .send()
            .await
            .ok()?
            .error_for_status()
            .ok()?;
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.ok()? {
            bytes.extend_from_slice(&chunk);
            if bytes.len() as u64 > self.upload_limit {
                return None;
            }
        }
        Some(bytes)
    }

    /// Whether `url` is on one of the allowed hosts.
    fn allowed(&self, url: &str) -> bool {
        reqwest::Url::parse(url)
            .ok()
            .and_then(|url| url.host_str().map(str::to_owned))
            .is_some_and(|host| self.hosts.contains(&host))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_allowed_hosts_are_fetched_from() {
        let downloads = Downloads::new(&DeliveryConfig::default());
        assert!(downloads.allowed("https://cdn.discordapp.com/attachments/1/2/a.png"));
        assert!(downloads.allowed("https://media.discordapp.net/attachments/1/2/a.png"));
        assert!(!downloads.allowed("https://evil.example/a.png"));
        assert!(!downloads.allowed("http://169.254.169.254/latest/meta-data"));
        assert!(!downloads.allowed("https://cdn.discordapp.com.evil.example/a.png"));
        assert!(!downloads.allowed("not a url"));
    }
}
