//! Reading a join link (`https://host/?token=…`, as `talkstick token --url` and the
//! invite panel make them) into the server's base URL and the token.

/// Why a link cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LinkError {
    /// Not an http(s) URL.
    #[error("this is not a Talkstick link (it should start with http:// or https://): {0}")]
    NotALink(String),
    /// No token in it.
    #[error("this link is incomplete: it should end with a long code after ?token=")]
    NoToken,
}

/// The server's base URL (`scheme://host:port`) and the token of a join link.
pub fn parse(link: &str) -> Result<(String, String), LinkError> {
    let link = link.trim();
    let Some((scheme, rest)) = link.split_once("://") else {
        return Err(LinkError::NotALink(link.to_owned()));
    };
    if scheme != "http" && scheme != "https" {
        return Err(LinkError::NotALink(link.to_owned()));
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (host, tail) = rest.split_at(end);
    if host.is_empty() {
        return Err(LinkError::NotALink(link.to_owned()));
    }
    let query = tail.split_once('?').map_or("", |(_, q)| q);
    let query = query.split('#').next().unwrap_or("");
    let fragment = tail.split_once('#').map_or("", |(_, f)| f);
    let token = query
        .split('&')
        .chain(fragment.split('&'))
        .find_map(|kv| kv.strip_prefix("token="))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(LinkError::NoToken)?;
    Ok((format!("{scheme}://{host}"), token.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_links_the_server_makes() {
        assert_eq!(
            parse("http://127.0.0.1:8080/?token=aa.bb.cc").unwrap(),
            ("http://127.0.0.1:8080".into(), "aa.bb.cc".into())
        );
        assert_eq!(
            parse(" https://talk.example.org/?x=1&token=aa.bb.cc#top ").unwrap(),
            ("https://talk.example.org".into(), "aa.bb.cc".into())
        );
        assert_eq!(parse("https://h/report.html#token=t").unwrap().1, "t");
    }

    #[test]
    fn says_what_is_wrong_with_a_bad_link() {
        assert_eq!(parse("https://h/?token="), Err(LinkError::NoToken));
        assert_eq!(parse("https://h/"), Err(LinkError::NoToken));
        assert!(matches!(parse("ftp://h/?token=x"), Err(LinkError::NotALink(_))));
        assert!(matches!(parse("aa.bb.cc"), Err(LinkError::NotALink(_))));
        assert!(matches!(parse("http:///?token=x"), Err(LinkError::NotALink(_))));
    }
}
