//! The member's language: every sentence kakusan shows a person comes from a Fluent message
//! file per language (`locales/en.ftl`, `locales/ja.ftl`), chosen from the interaction's
//! locale, then the guild's, then English.
//!
//! Sentences are rendered where the language is known (a handler has its `Ctx`, a bot-com line
//! its server's locale) with [`tr!`](crate::tr). Both files are compiled into the binary and
//! parsed once; the tests below fail when a message exists in one language and not the other,
//! when their placeholders differ, or when the code names a message that does not exist.

use std::sync::LazyLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use unic_langid::LanguageIdentifier;

/// A language kakusan speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// English: the fallback for every locale that is not Japanese.
    #[default]
    En,
    /// Japanese.
    Ja,
}

impl Lang {
    /// The language for a Discord locale (`ja`, `en-US`, …): Japanese for `ja`, else English.
    pub(crate) fn from_locale(locale: &str) -> Lang {
        if locale == "ja" || locale.starts_with("ja-") {
            Lang::Ja
        } else {
            Lang::En
        }
    }

    /// The member's language: their own locale when Discord sent it, then the guild's, then
    /// English.
    pub(crate) fn negotiate(locale: Option<&str>, guild_locale: Option<&str>) -> Lang {
        locale
            .or(guild_locale)
            .map(Lang::from_locale)
            .unwrap_or_default()
    }

    /// Sentences as one answer: English puts a space between them, Japanese (whose sentences
    /// end in `。`) nothing.
    pub(crate) fn join(self, sentences: &[String]) -> String {
        let separator = match self {
            Lang::En => " ",
            Lang::Ja => "",
        };
        sentences
            .iter()
            .filter(|sentence| !sentence.is_empty())
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(separator)
    }

    /// The Discord locale code this language is stored and sent as.
    pub(crate) fn code(self) -> &'static str {
        match self {
            Lang::En => "en-US",
            Lang::Ja => "ja",
        }
    }

    fn bundle(self) -> &'static FluentBundle<FluentResource> {
        match self {
            Lang::En => &ENGLISH,
            Lang::Ja => &JAPANESE,
        }
    }
}

const ENGLISH_FTL: &str = include_str!("../locales/en.ftl");
const JAPANESE_FTL: &str = include_str!("../locales/ja.ftl");

static ENGLISH: LazyLock<FluentBundle<FluentResource>> =
    LazyLock::new(|| bundle("en-US", ENGLISH_FTL));
static JAPANESE: LazyLock<FluentBundle<FluentResource>> =
    LazyLock::new(|| bundle("ja", JAPANESE_FTL));

/// Parses one message file. The files are part of the binary and the tests parse both, so a
/// syntax error cannot reach a running deployment.
fn bundle(language: &str, source: &str) -> FluentBundle<FluentResource> {
    let language: LanguageIdentifier = language.parse().expect("a valid language tag");
    let resource = FluentResource::try_new(source.to_owned())
        .unwrap_or_else(|(_, errors)| panic!("message file for {language}: {errors:?}"));
    let mut bundle = FluentBundle::new_concurrent(vec![language]);
    // Discord shows Unicode isolation marks around every placeholder as they are; names and
    // numbers need none.
    bundle.set_use_isolating(false);
    bundle
        .add_resource(resource)
        .expect("message ids are unique in each file");
    bundle
}

/// The sentence `id` in `lang`, with `args` for its placeholders. Prefer [`tr!`](crate::tr).
///
/// A message missing at run time (the tests make this a bug of ours) is logged and shown as its
/// id, so the member still gets an answer.
pub(crate) fn text(lang: Lang, id: &str, args: Option<&FluentArgs>) -> String {
    let bundle = lang.bundle();
    let Some(pattern) = bundle.get_message(id).and_then(|message| message.value()) else {
        tracing::error!(id, language = lang.code(), "no such message");
        return id.to_owned();
    };
    let mut errors = Vec::new();
    let text = bundle.format_pattern(pattern, args, &mut errors);
    if !errors.is_empty() {
        tracing::error!(
            id,
            language = lang.code(),
            ?errors,
            "message formatted with errors"
        );
    }
    text.into_owned()
}

/// A value for a placeholder. Numbers that `f64` holds exactly stay numbers (plural selectors
/// need them); larger ones can only be Discord ids, which Fluent would round as floats, so they
/// become text. Strings are strings.
pub(crate) trait Arg {
    /// The Fluent value.
    fn arg(self) -> FluentValue<'static>;
}

/// The largest integer an `f64` holds exactly (2^53).
const EXACT_IN_F64: u64 = 1 << 53;

macro_rules! integer_arg {
    ($($type:ty),+) => {$(
        impl Arg for $type {
            // Exact: the value was just checked to be within 2^53.
            fn arg(self) -> FluentValue<'static> {
                if (self as i128).unsigned_abs() <= u128::from(EXACT_IN_F64) {
                    FluentValue::from(self as f64)
                } else {
                    FluentValue::from(self.to_string())
                }
            }
        }
    )+};
}
integer_arg!(u16, u32, u64, usize, i32, i64);

impl Arg for &str {
    fn arg(self) -> FluentValue<'static> {
        FluentValue::from(self.to_owned())
    }
}

impl Arg for String {
    fn arg(self) -> FluentValue<'static> {
        FluentValue::from(self)
    }
}

impl Arg for &String {
    fn arg(self) -> FluentValue<'static> {
        FluentValue::from(self.clone())
    }
}

/// Renders a message in a language: `tr!(lang, "here-delivered", delivered = 2, count = 3)`.
///
/// Placeholders are named as in the message files (`{ $count }`); a value is a string or an
/// integer (see [`Arg`]: a Discord id stays exact).
#[macro_export]
#[doc(hidden)]
macro_rules! tr {
    ($lang:expr, $id:literal) => {
        $crate::i18n::text($lang, $id, None)
    };
    ($lang:expr, $id:literal, $($name:ident = $value:expr),+ $(,)?) => {{
        let mut args = ::fluent_bundle::FluentArgs::new();
        $( args.set(stringify!($name), $crate::i18n::Arg::arg($value)); )+
        $crate::i18n::text($lang, $id, Some(&args))
    }};
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::Path;

    use fluent_bundle::FluentResource;
    use fluent_syntax::ast::{Entry, Expression, InlineExpression, Pattern, PatternElement};

    use super::*;

    /// Every message of a file with the placeholders (`$name`) it uses.
    fn messages(source: &str) -> BTreeMap<String, BTreeSet<String>> {
        let resource = FluentResource::try_new(source.to_owned()).expect("parses");
        resource
            .entries()
            .filter_map(|entry| match entry {
                Entry::Message(message) => {
                    let mut names = BTreeSet::new();
                    if let Some(pattern) = &message.value {
                        placeholders(pattern, &mut names);
                    }
                    for attribute in &message.attributes {
                        placeholders(&attribute.value, &mut names);
                    }
                    Some((message.id.name.to_owned(), names))
                }
                _ => None,
            })
            .collect()
    }

    fn placeholders(pattern: &Pattern<&str>, names: &mut BTreeSet<String>) {
        for element in &pattern.elements {
            if let PatternElement::Placeable { expression } = element {
                expression_placeholders(expression, names);
            }
        }
    }

    fn expression_placeholders(expression: &Expression<&str>, names: &mut BTreeSet<String>) {
        match expression {
            Expression::Inline(inline) => inline_placeholders(inline, names),
            Expression::Select { selector, variants } => {
                inline_placeholders(selector, names);
                for variant in variants {
                    placeholders(&variant.value, names);
                }
            }
        }
    }

    fn inline_placeholders(inline: &InlineExpression<&str>, names: &mut BTreeSet<String>) {
        match inline {
            InlineExpression::VariableReference { id } => {
                names.insert(id.name.to_owned());
            }
            InlineExpression::FunctionReference { arguments, .. } => {
                for argument in &arguments.positional {
                    inline_placeholders(argument, names);
                }
            }
            InlineExpression::Placeable { expression } => {
                expression_placeholders(expression, names);
            }
            _ => {}
        }
    }

    #[test]
    fn both_languages_have_the_same_messages_with_the_same_placeholders() {
        let english = messages(ENGLISH_FTL);
        let japanese = messages(JAPANESE_FTL);
        let only_english: Vec<_> = english
            .keys()
            .filter(|id| !japanese.contains_key(*id))
            .collect();
        let only_japanese: Vec<_> = japanese
            .keys()
            .filter(|id| !english.contains_key(*id))
            .collect();
        assert!(only_english.is_empty(), "no Japanese for {only_english:?}");
        assert!(only_japanese.is_empty(), "no English for {only_japanese:?}");
        for (id, names) in &english {
            assert_eq!(
                names, &japanese[id],
                "message {id}: the placeholders differ between English and Japanese"
            );
        }
        // Parsing into bundles succeeds too (no duplicate ids).
        let _ = (&*ENGLISH, &*JAPANESE);
    }

    /// Every `tr!(lang, "id"…)` in the crate names a message that exists.
    #[test]
    fn every_message_the_code_names_exists() {
        let english = messages(ENGLISH_FTL);
        let mut missing = Vec::new();
        let mut named = 0;
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        for file in rust_files(&src) {
            let code = std::fs::read_to_string(&file).unwrap();
            for (at, _) in code.match_indices("tr!(") {
                let rest = &code[at..];
                // The id is the first string literal of the call.
                let Some(open) = rest.find('"') else { continue };
                let id: String = rest[open + 1..].chars().take_while(|c| *c != '"').collect();
                if id == "id" || file.ends_with("i18n.rs") {
                    continue;
                }
                named += 1;
                if !english.contains_key(&id) {
                    missing.push(format!("{}: {id}", file.display()));
                }
            }
        }
        assert!(
            missing.is_empty(),
            "messages the code names but no file has: {missing:?}"
        );
        assert!(named > 0, "the scan found no tr! call at all");
    }

    fn rust_files(dir: &Path) -> Vec<std::path::PathBuf> {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                files.extend(rust_files(&path));
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
        files
    }

    #[test]
    fn the_language_follows_the_member_then_the_guild_then_english() {
        assert_eq!(Lang::negotiate(Some("ja"), Some("en-US")), Lang::Ja);
        assert_eq!(Lang::negotiate(Some("en-GB"), Some("ja")), Lang::En);
        assert_eq!(Lang::negotiate(None, Some("ja")), Lang::Ja);
        assert_eq!(Lang::negotiate(None, None), Lang::En);
        assert_eq!(Lang::negotiate(Some("fr"), None), Lang::En);
    }

    /// Plurals and the other selectors read as whole sentences in both languages.
    #[test]
    fn selectors_make_whole_sentences() {
        let delivered =
            |lang, count: usize| tr!(lang, "here-delivered", delivered = 1, count = count);
        assert_eq!(delivered(Lang::En, 1), "Delivered to 1 of 1 destination.");
        assert_eq!(delivered(Lang::En, 2), "Delivered to 1 of 2 destinations.");
        assert_eq!(delivered(Lang::Ja, 2), "2 件中 1 件の配信先に届けました。");
        assert_eq!(
            tr!(
                Lang::En,
                "unregserver-webhooks",
                count = 1,
                master = "replaced"
            ),
            "It held this server's webhooks: 1 times webhook was replaced, and the master webhook (the other peers get the new card)."
        );
        assert_eq!(
            tr!(Lang::En, "unregserver-webhooks", count = 0, master = "none"),
            "It held this server's webhooks: 0 times webhooks were replaced."
        );
        assert_eq!(
            tr!(Lang::Ja, "unregserver-webhooks", count = 2, master = "kept"),
            "相手はこのサーバーのウェブフックを持っていました。times のウェブフック 2 件を作り直しました。マスターウェブフックはそのままです (keep_master)。"
        );
        let here = |lang, mirror| {
            tr!(
                lang,
                "sharelist-here",
                channel = 5,
                mirror = mirror,
                state = "ok"
            )
        };
        assert_eq!(here(Lang::En, "on"), "Here: <#5> (mirror), ok");
        assert_eq!(here(Lang::En, "off"), "Here: <#5>, ok");
        assert_eq!(here(Lang::Ja, "on"), "このサーバー: <#5>（ミラー）、ok");
        assert_eq!(
            tr!(Lang::En, "regtimes-updated", now = "on", was = "off"),
            "Updated your times here: mirror mode is now on (it was off). Its webhook and your destinations stay as they are."
        );
        assert_eq!(
            tr!(
                Lang::En,
                "botcom-envelope-rejected",
                label = "stale",
                reason = "too old"
            ),
            "Envelope check: too old."
        );
        assert_eq!(
            tr!(
                Lang::Ja,
                "botcom-envelope-rejected",
                label = "stale",
                reason = "too old"
            ),
            "受け取ったメッセージを拒否しました（時刻がずれています）: too old"
        );
        assert_eq!(
            Lang::Ja.join(&["一。".into(), String::new(), "二。".into()]),
            "一。二。"
        );
        assert_eq!(Lang::En.join(&["One.".into(), "Two.".into()]), "One. Two.");
    }

    #[test]
    fn discord_ids_are_shown_exactly_and_counts_select_plurals() {
        let id: u64 = 1_577_114_464_896_024_577;
        assert_eq!(
            crate::tr!(Lang::En, "accept-done", name = "beta", user = id),
            "**beta** was accepted by <@1577114464896024577>; you are mutual peers now."
        );
        let count: u64 = 1;
        assert_eq!(
            crate::tr!(Lang::En, "cancel-done", count = count),
            "Cancelled: 1 copy will not be sent."
        );
    }

    #[test]
    fn placeholders_are_filled_without_isolation_marks() {
        let english = crate::tr!(Lang::En, "storage-unavailable");
        assert!(!english.is_empty());
        let text = crate::tr!(Lang::Ja, "internal-error");
        assert!(!text.contains('\u{2068}'), "{text:?}");
        // A message with a placeholder is where Fluent would put the marks.
        let filled = crate::tr!(Lang::Ja, "needs-manage-server", command = "card");
        assert!(filled.contains("/card"), "{filled:?}");
        assert!(
            !filled.contains('\u{2068}') && !filled.contains('\u{2069}'),
            "{filled:?}"
        );
    }
}
