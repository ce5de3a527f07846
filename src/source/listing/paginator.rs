//! The one ListObjectsV2 paginator: every listing of the run (the bucket check, account and
//! region discovery, the GuardDuty layout probe, the object pages) walks its pages here. The
//! S3 call sits behind [`ListObjects`] so the paging rules are tested without S3.

use crate::aws::{classify, AwsError};
use crate::bucket::Listed;
use std::future::Future;

/// One ListObjectsV2 request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageRequest {
    pub prefix: String,
    /// Group keys by `/` into folders (`CommonPrefixes`).
    pub folders: bool,
    /// Sent on the first request only: a continuation token says where the next page starts.
    pub start_after: Option<String>,
    pub max_keys: Option<i32>,
    pub token: Option<String>,
}

impl PageRequest {
    pub fn folders_of(prefix: &str) -> Self {
        PageRequest {
            prefix: prefix.to_string(),
            folders: true,
            ..Default::default()
        }
    }
}

/// One page as the run uses it.
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// Objects, without folder markers (keys ending in `/`) and empty keys.
    pub objects: Vec<Listed>,
    /// Folder names one level under the prefix (with `folders`).
    pub folders: Vec<String>,
    /// The page listed keys at all (folder markers included): an empty page ends a listing.
    pub listed_any: bool,
    /// Where the next page starts, when the listing is truncated.
    pub next: Option<String>,
}

/// Something that answers one ListObjectsV2 request.
pub trait ListObjects: Clone + Send + Sync + 'static {
    fn list(&self, request: &PageRequest) -> impl Future<Output = Result<Page, AwsError>> + Send;
}

/// The pages of one request, each fetched when asked for.
pub struct Pages<L> {
    lister: L,
    request: PageRequest,
    done: bool,
}

impl<L: ListObjects> Pages<L> {
    pub fn new(lister: L, request: PageRequest) -> Self {
        Pages {
            lister,
            request,
            done: false,
        }
    }

    /// The next page; `None` after the last page or after an error.
    pub async fn next(&mut self) -> Option<Result<Page, AwsError>> {
        if self.done {
            return None;
        }
        let result = self.lister.list(&self.request).await;
        match result.as_ref().map(|p| p.next.clone()) {
            Ok(Some(token)) => {
                self.request.token = Some(token);
                self.request.start_after = None;
            }
            _ => self.done = true,
        }
        Some(result)
    }
}

/// Folder names one level under `prefix`, every page.
pub async fn folder_names<L: ListObjects>(
    lister: L,
    prefix: &str,
) -> Result<Vec<String>, AwsError> {
    let mut pages = Pages::new(lister, PageRequest::folders_of(prefix));
    let mut names = Vec::new();
    while let Some(page) = pages.next().await {
        names.extend(page?.folders);
    }
    Ok(names)
}

/// A bucket's ListObjectsV2.
#[derive(Clone)]
pub struct S3Lister {
    pub s3: aws_sdk_s3::Client,
    pub bucket: String,
}

impl ListObjects for S3Lister {
    async fn list(&self, request: &PageRequest) -> Result<Page, AwsError> {
        let resp = self
            .s3
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&request.prefix)
            .set_delimiter(request.folders.then(|| "/".to_string()))
            .set_start_after(request.start_after.clone())
            .set_max_keys(request.max_keys)
            .set_continuation_token(request.token.clone())
            .send()
            .await
            .map_err(|e| classify("ListObjectsV2", &e))?;
        let objects = resp
            .contents()
            .iter()
            .filter_map(|o| {
                let key = o.key().filter(|k| !k.is_empty() && !k.ends_with('/'))?;
                Some(Listed {
                    key: key.to_string(),
                    last_modified: o
                        .last_modified()
                        .and_then(|t| chrono::DateTime::from_timestamp(t.secs(), 0)),
                })
            })
            .collect();
        let folders = resp
            .common_prefixes()
            .iter()
            .filter_map(|p| p.prefix()?.trim_end_matches('/').rsplit('/').next())
            .map(str::to_string)
            .collect();
        Ok(Page {
            objects,
            folders,
            listed_any: !resp.contents().is_empty(),
            next: resp
                .next_continuation_token()
                .filter(|_| resp.is_truncated() == Some(true))
                .map(str::to_string),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::AwsErrorKind;
    use std::sync::{Arc, Mutex};

    /// A page, or a throttling error, for a continuation token (`None`: the first page).
    type Answer = (Option<&'static str>, Result<Page, ()>);

    /// Answers by continuation token, remembering every request.
    #[derive(Clone, Default)]
    struct Fake {
        pages: Arc<Vec<Answer>>,
        seen: Arc<Mutex<Vec<PageRequest>>>,
    }

    impl ListObjects for Fake {
        async fn list(&self, request: &PageRequest) -> Result<Page, AwsError> {
            self.seen.lock().unwrap().push(request.clone());
            let (_, page) = self
                .pages
                .iter()
                .find(|(t, _)| t.map(str::to_string) == request.token)
                .expect("a page for this token");
            page.clone().map_err(|_| AwsError {
                kind: AwsErrorKind::Service("SlowDown".into()),
                text: "throttled".into(),
            })
        }
    }

    fn page(folders: &[&str], next: Option<&str>) -> Page {
        Page {
            folders: folders.iter().map(|f| f.to_string()).collect(),
            listed_any: true,
            next: next.map(str::to_string),
            ..Default::default()
        }
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
    }

    #[test]
    fn follows_tokens_and_sends_start_after_only_first() {
        let fake = Fake {
            pages: Arc::new(vec![
                (None, Ok(page(&["a"], Some("t1")))),
                (Some("t1"), Ok(page(&["b"], Some("t2")))),
                (Some("t2"), Ok(page(&["c"], None))),
            ]),
            ..Default::default()
        };
        let request = PageRequest {
            prefix: "p/".into(),
            start_after: Some("p/2024".into()),
            ..Default::default()
        };
        let mut pages = Pages::new(fake.clone(), request);
        let mut got = Vec::new();
        runtime().block_on(async {
            while let Some(p) = pages.next().await {
                got.extend(p.unwrap().folders);
            }
        });
        assert_eq!(got, ["a", "b", "c"]);
        let seen = fake.seen.lock().unwrap();
        let starts: Vec<_> = seen.iter().map(|r| r.start_after.as_deref()).collect();
        let tokens: Vec<_> = seen.iter().map(|r| r.token.as_deref()).collect();
        assert_eq!(starts, [Some("p/2024"), None, None]);
        assert_eq!(tokens, [None, Some("t1"), Some("t2")]);
    }

    #[test]
    fn an_error_ends_the_pages() {
        let fake = Fake {
            pages: Arc::new(vec![
                (None, Ok(page(&["a"], Some("t1")))),
                (Some("t1"), Err(())),
            ]),
            ..Default::default()
        };
        let mut pages = Pages::new(fake.clone(), PageRequest::folders_of("p/"));
        runtime().block_on(async {
            assert!(pages.next().await.unwrap().is_ok());
            assert!(pages.next().await.unwrap().is_err());
            assert!(pages.next().await.is_none());
        });
        assert_eq!(fake.seen.lock().unwrap().len(), 2);
    }

    #[test]
    fn folder_names_of_every_page() {
        let fake = Fake {
            pages: Arc::new(vec![
                (None, Ok(page(&["111122223333", "x"], Some("t1")))),
                (Some("t1"), Ok(page(&["444455556666"], None))),
            ]),
            ..Default::default()
        };
        let names = runtime()
            .block_on(folder_names(fake.clone(), "AWSLogs/"))
            .unwrap();
        assert_eq!(names, ["111122223333", "x", "444455556666"]);
        assert!(fake.seen.lock().unwrap().iter().all(|r| r.folders));
    }
}
