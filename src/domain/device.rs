//! What a person calls the device a session signed in from ("Firefox on Linux"), read from
//! its User-Agent by the woothee project's rules. Clients that say nothing useful (scripts,
//! bots) are named by what they send, shortened.

/// "Browser on System", "Browser", or the agent itself cut to 40 characters ("Unknown" when
/// empty).
pub fn describe_device(user_agent: &str) -> String {
    let known = |s: &str| !s.is_empty() && s != woothee::woothee::VALUE_UNKNOWN;
    let parsed = woothee::parser::Parser::new().parse(user_agent);
    // Only browsers and apps of people's devices; libraries and crawlers by what they send.
    let device =
        |category: &str| matches!(category, "pc" | "smartphone" | "mobilephone" | "appliance");
    if let Some(found) = parsed.filter(|f| device(f.category)) {
        let (name, os) = (found.name, found.os);
        match (known(name), known(os)) {
            (true, true) => return format!("{name} on {os}"),
            (true, false) => return name.to_owned(),
            (false, true) => return os.to_owned(),
            _ => {}
        }
    }
    let agent: String = user_agent.trim().chars().take(40).collect();
    if agent.is_empty() {
        "Unknown".to_owned()
    } else {
        agent
    }
}

#[cfg(test)]
mod tests {
    use super::describe_device;

    #[test]
    fn browsers_and_systems_are_named() {
        let cases = [
            (
                "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
                "Firefox on Linux",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
                "Chrome on Windows 10",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
                "Safari on iPhone",
            ),
            (
                "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
                "Chrome on Android",
            ),
            ("curl/8.5.0", "curl/8.5.0"),
            ("", "Unknown"),
        ];
        for (agent, want) in cases {
            assert_eq!(describe_device(agent), want, "{agent}");
        }
    }
}
