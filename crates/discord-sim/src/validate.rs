//! Field checks Discord makes, reported as 50035 "Invalid Form Body" entries.
//!
//! Follows "Interactions: Application Commands" (naming, option structure, localisation) and
//! "Webhook resource" (webhook names and usernames).

use serde_json::{Value, json};

use crate::error::FormErrors;

/// Locales Discord accepts in `name_localizations` and `description_localizations`.
const LOCALES: &[&str] = &[
    "id", "da", "de", "en-GB", "en-US", "es-ES", "es-419", "fr", "hr", "it", "lt", "hu", "nl",
    "no", "pl", "pt-BR", "ro", "fi", "sv-SE", "vi", "tr", "cs", "el", "bg", "ru", "uk", "hi", "th",
    "zh-CN", "ja", "zh-TW", "ko",
];

/// Checks a webhook name or username override: 1–80 characters, never containing "discord" or
/// "clyde", and not exactly "everyone" or "here".
pub(crate) fn webhook_name(errors: &mut FormErrors, field: &str, name: &str) {
    let length = name.chars().count();
    if !(1..=80).contains(&length) {
        errors.add(
            field,
            "BASE_TYPE_BAD_LENGTH",
            "Must be between 1 and 80 in length.",
        );
        return;
    }
    let lower = name.to_lowercase();
    for word in ["discord", "clyde"] {
        if lower.contains(word) {
            errors.add(
                field,
                "USERNAME_INVALID_CONTAINS",
                format!("Username cannot contain \"{word}\""),
            );
        }
    }
    if lower == "everyone" || lower == "here" {
        errors.add(field, "USERNAME_INVALID", "Username is invalid");
    }
}

/// Whether a name matches `^[-_\p{L}\p{N}]{1,32}$` with no upper-case letters, as chat-input
/// command and option names must.
pub(crate) fn is_valid_chat_input_name(name: &str) -> bool {
    let length = name.chars().count();
    (1..=32).contains(&length)
        && name.chars().all(|c| {
            (c == '-' || c == '_' || c.is_alphanumeric()) && c.to_lowercase().eq(std::iter::once(c))
        })
}

fn check_name(errors: &mut FormErrors, path: &str, name: Option<&Value>, chat_input: bool) {
    let Some(name) = name.and_then(Value::as_str) else {
        errors.add(path, "BASE_TYPE_REQUIRED", "This field is required");
        return;
    };
    let length = name.chars().count();
    if !(1..=32).contains(&length) {
        errors.add(
            path,
            "BASE_TYPE_BAD_LENGTH",
            "Must be between 1 and 32 in length.",
        );
    } else if chat_input && !is_valid_chat_input_name(name) {
        errors.add(
            path,
            "APPLICATION_COMMAND_INVALID_NAME",
            "Command name is invalid",
        );
    }
}

fn check_description(
    errors: &mut FormErrors,
    path: &str,
    description: Option<&Value>,
    chat_input: bool,
) {
    let text = description.and_then(Value::as_str).unwrap_or("");
    let length = text.chars().count();
    if chat_input {
        if description.is_none_or(Value::is_null) {
            errors.add(path, "BASE_TYPE_REQUIRED", "This field is required");
        } else if !(1..=100).contains(&length) {
            errors.add(
                path,
                "BASE_TYPE_BAD_LENGTH",
                "Must be between 1 and 100 in length.",
            );
        }
    } else if length != 0 {
        errors.add(
            path,
            "APPLICATION_COMMAND_CONTEXT_MENU_DESCRIPTION_INVALID",
            "Context menu commands cannot have description",
        );
    }
}

fn check_localizations(
    errors: &mut FormErrors,
    path: &str,
    value: Option<&Value>,
    check: impl Fn(&mut FormErrors, &str, Option<&Value>),
) {
    let Some(map) = value.and_then(Value::as_object) else {
        return;
    };
    for (locale, text) in map {
        let entry = format!("{path}.{locale}");
        if !LOCALES.contains(&locale.as_str()) {
            errors.add(&entry, "LOCALE_INVALID", "Invalid Locale");
        } else {
            check(errors, &entry, Some(text));
        }
    }
}

fn check_options(errors: &mut FormErrors, path: &str, options: &[Value], depth: u8) {
    if options.len() > 25 {
        errors.add(
            path,
            "BASE_TYPE_MAX_LENGTH",
            "Must be 25 or fewer in length.",
        );
    }
    let mut seen = Vec::new();
    let mut optional_seen = false;
    let kinds: Vec<u64> = options
        .iter()
        .map(|o| o["type"].as_u64().unwrap_or(0))
        .collect();
    let has_sub = kinds.iter().any(|k| *k == 1 || *k == 2);
    if has_sub && kinds.iter().any(|k| *k != 1 && *k != 2) {
        errors.add(
            path,
            "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
            "Sub-command and sub-command group option types are mutually exclusive to all other types",
        );
    }
    for (i, option) in options.iter().enumerate() {
        let base = format!("{path}.{i}");
        let kind = option["type"].as_u64().unwrap_or(0);
        if !(1..=11).contains(&kind) {
            errors.add(
                &format!("{base}.type"),
                "BASE_TYPE_CHOICES",
                "Value must be one of {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}.",
            );
        }
        check_name(errors, &format!("{base}.name"), option.get("name"), true);
        check_description(
            errors,
            &format!("{base}.description"),
            option.get("description"),
            true,
        );
        check_localizations(
            errors,
            &format!("{base}.name_localizations"),
            option.get("name_localizations"),
            |e, p, v| check_name(e, p, v, true),
        );
        check_localizations(
            errors,
            &format!("{base}.description_localizations"),
            option.get("description_localizations"),
            |e, p, v| check_description(e, p, v, true),
        );
        if let Some(name) = option["name"].as_str() {
            if seen.contains(&name) {
                errors.add(
                    &format!("{base}.name"),
                    "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS",
                    "Option name already exists",
                );
            }
            seen.push(name);
        }
        let required = option["required"].as_bool().unwrap_or(false);
        if required && optional_seen {
            errors.add(
                &format!("{base}.required"),
                "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                "Required options must be placed before non-required options",
            );
        }
        optional_seen |= !required && kind != 1 && kind != 2;
        let nested = option["options"].as_array().cloned().unwrap_or_default();
        match kind {
            1 | 2 => {
                if (kind == 2 && depth > 0) || (kind == 1 && depth > 1) {
                    errors.add(
                        &format!("{base}.type"),
                        "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
                        "Sub-commands cannot be nested this deep",
                    );
                }
                if kind == 2 && nested.iter().any(|o| o["type"].as_u64() != Some(1)) {
                    errors.add(
                        &format!("{base}.options"),
                        "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
                        "Sub-command groups may only contain sub-commands",
                    );
                }
                if kind == 1
                    && nested
                        .iter()
                        .any(|o| matches!(o["type"].as_u64(), Some(1 | 2)))
                {
                    errors.add(
                        &format!("{base}.options"),
                        "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
                        "Sub-commands cannot contain sub-commands",
                    );
                }
                check_options(errors, &format!("{base}.options"), &nested, depth + 1);
            }
            _ if !nested.is_empty() => {
                errors.add(
                    &format!("{base}.options"),
                    "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
                    "Only sub-commands may have options",
                );
            }
            _ => {}
        }
        if let Some(choices) = option.get("choices").and_then(Value::as_array) {
            if !matches!(kind, 3 | 4 | 10) {
                errors.add(
                    &format!("{base}.choices"),
                    "APPLICATION_COMMAND_OPTION_CHOICES_TYPE_INVALID",
                    "Choices are only allowed for string, integer and number options",
                );
            }
            if choices.len() > 25 {
                errors.add(
                    &format!("{base}.choices"),
                    "BASE_TYPE_MAX_LENGTH",
                    "Must be 25 or fewer in length.",
                );
            }
            if option["autocomplete"].as_bool() == Some(true) && !choices.is_empty() {
                errors.add(
                    &format!("{base}.autocomplete"),
                    "APPLICATION_COMMAND_OPTION_AUTOCOMPLETE_CHOICES",
                    "Autocomplete cannot be set with choices",
                );
            }
            for (j, choice) in choices.iter().enumerate() {
                check_choice(errors, &format!("{base}.choices.{j}"), choice, kind);
            }
        }
        if option["autocomplete"].as_bool() == Some(true) && !matches!(kind, 3 | 4 | 10) {
            errors.add(
                &format!("{base}.autocomplete"),
                "APPLICATION_COMMAND_OPTION_AUTOCOMPLETE_INVALID",
                "Autocomplete is only allowed for string, integer and number options",
            );
        }
        for key in ["min_value", "max_value"] {
            if option.get(key).is_some_and(|v| !v.is_null()) && !matches!(kind, 4 | 10) {
                errors.add(
                    &format!("{base}.{key}"),
                    "APPLICATION_COMMAND_OPTION_TYPE_INVALID",
                    "Only integer and number options may have bounds",
                );
            }
        }
        for key in ["min_length", "max_length"] {
            if let Some(v) = option.get(key).filter(|v| !v.is_null()) {
                if kind != 3 {
                    errors.add(
                        &format!("{base}.{key}"),
                        "APPLICATION_COMMAND_OPTION_TYPE_INVALID",
                        "Only string options may have lengths",
                    );
                } else if v.as_u64().is_none_or(|n| n > 6000) {
                    errors.add(
                        &format!("{base}.{key}"),
                        "NUMBER_TYPE_MAX",
                        "int value should be less than or equal to 6000.",
                    );
                }
            }
        }
        if option.get("channel_types").is_some_and(|v| !v.is_null()) && kind != 7 {
            errors.add(
                &format!("{base}.channel_types"),
                "APPLICATION_COMMAND_OPTION_TYPE_INVALID",
                "Only channel options may have channel types",
            );
        }
    }
}

fn check_choice(errors: &mut FormErrors, path: &str, choice: &Value, kind: u64) {
    let name_len = choice["name"].as_str().map(|s| s.chars().count());
    if !name_len.is_some_and(|n| (1..=100).contains(&n)) {
        errors.add(
            &format!("{path}.name"),
            "BASE_TYPE_BAD_LENGTH",
            "Must be between 1 and 100 in length.",
        );
    }
    let value = &choice["value"];
    let ok = match kind {
        3 => value.as_str().is_some_and(|s| s.chars().count() <= 100),
        4 => value.is_i64() || value.is_u64(),
        10 => value.is_number(),
        _ => true,
    };
    if !ok {
        errors.add(
            &format!("{path}.value"),
            "BASE_TYPE_BAD_VALUE",
            "Choice value does not match the option type",
        );
    }
}

/// Validates a bulk-overwrite body (a list of commands); the error paths start with the index.
pub(crate) fn commands(list: &Value) -> Result<Vec<Value>, crate::error::ApiError> {
    let mut errors = FormErrors::new();
    let Some(items) = list.as_array() else {
        errors.add(
            "_root",
            "LIST_TYPE_CONVERT",
            "Only iterables may be used in a ListType",
        );
        errors.finish()?;
        return Ok(Vec::new());
    };
    let mut seen: Vec<(u64, String)> = Vec::new();
    let mut chat_inputs = 0;
    for (i, command) in items.iter().enumerate() {
        let kind = command["type"].as_u64().unwrap_or(1);
        let chat_input = kind == 1;
        if !(1..=4).contains(&kind) {
            errors.add(
                &format!("{i}.type"),
                "BASE_TYPE_CHOICES",
                "Value must be one of {1, 2, 3, 4}.",
            );
        }
        chat_inputs += usize::from(chat_input);
        check_name(
            &mut errors,
            &format!("{i}.name"),
            command.get("name"),
            chat_input,
        );
        check_description(
            &mut errors,
            &format!("{i}.description"),
            command.get("description"),
            chat_input,
        );
        check_localizations(
            &mut errors,
            &format!("{i}.name_localizations"),
            command.get("name_localizations"),
            |e, p, v| check_name(e, p, v, chat_input),
        );
        check_localizations(
            &mut errors,
            &format!("{i}.description_localizations"),
            command.get("description_localizations"),
            |e, p, v| check_description(e, p, v, chat_input),
        );
        if let Some(options) = command.get("options").and_then(Value::as_array) {
            if !chat_input && !options.is_empty() {
                errors.add(
                    &format!("{i}.options"),
                    "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
                    "Context menu commands cannot have options",
                );
            }
            check_options(&mut errors, &format!("{i}.options"), options, 0);
        }
        match command.get("default_member_permissions") {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if s.parse::<u64>().is_ok() => {}
            Some(_) => errors.add(
                &format!("{i}.default_member_permissions"),
                "BASE_TYPE_BAD_VALUE",
                "Invalid permission bits",
            ),
        }
        if let Some(name) = command["name"].as_str() {
            if seen.iter().any(|(k, n)| *k == kind && n == name) {
                errors.add(
                    &format!("{i}.name"),
                    "APPLICATION_COMMANDS_DUPLICATE_NAME",
                    "Application command names must be unique",
                );
            }
            seen.push((kind, name.to_owned()));
        }
    }
    if chat_inputs > 100 {
        errors.add(
            "_root",
            "BASE_TYPE_MAX_LENGTH",
            "Must be 100 or fewer in length.",
        );
    }
    errors.finish()?;
    Ok(items.clone())
}

/// The command object Discord returns for a registered command.
pub(crate) fn command_json(
    input: &Value,
    id: u64,
    version: u64,
    app_id: u64,
    guild_id: Option<u64>,
) -> Value {
    let kind = input["type"].as_u64().unwrap_or(1);
    let mut value = json!({
        "id": id.to_string(),
        "application_id": app_id.to_string(),
        "version": version.to_string(),
        "default_member_permissions": input.get("default_member_permissions").cloned().unwrap_or(Value::Null),
        "type": kind,
        "name": input["name"],
        "name_localizations": input.get("name_localizations").cloned().unwrap_or(Value::Null),
        "description": input.get("description").cloned().unwrap_or(json!("")),
        "description_localizations": input.get("description_localizations").cloned().unwrap_or(Value::Null),
        "nsfw": input.get("nsfw").and_then(Value::as_bool).unwrap_or(false),
        "contexts": input.get("contexts").cloned().unwrap_or(Value::Null),
        "integration_types": input.get("integration_types").cloned().unwrap_or(json!([0])),
    });
    if let Some(options) = input
        .get("options")
        .filter(|o| o.as_array().is_some_and(|a| !a.is_empty()))
    {
        value["options"] = options.clone();
    }
    match guild_id {
        Some(guild) => value["guild_id"] = json!(guild.to_string()),
        None => value["dm_permission"] = input.get("dm_permission").cloned().unwrap_or(json!(true)),
    }
    value
}

/// Checks embeds against Discord's limits ("Message resource: Embed Limits"): title 256,
/// description 4,096, at most 25 fields with names of 256 and values of 1,024, footer text
/// 2,048, author name 256, and 6,000 characters over all embeds of a message.
pub(crate) fn embeds(errors: &mut FormErrors, embeds: &[Value]) {
    let len = |v: &Value| v.as_str().map_or(0, |s| s.chars().count());
    let mut total = 0;
    for (i, embed) in embeds.iter().enumerate() {
        let base = format!("embeds.{i}");
        let fields = embed["fields"].as_array().cloned().unwrap_or_default();
        let mut checks: Vec<(String, &Value, usize)> = vec![
            ("title".into(), &embed["title"], 256),
            ("description".into(), &embed["description"], 4096),
            ("footer.text".into(), &embed["footer"]["text"], 2048),
            ("author.name".into(), &embed["author"]["name"], 256),
        ];
        for (j, field) in fields.iter().enumerate() {
            checks.push((format!("fields.{j}.name"), &field["name"], 256));
            checks.push((format!("fields.{j}.value"), &field["value"], 1024));
            for key in ["name", "value"] {
                if field[key].as_str().is_none_or(str::is_empty) {
                    errors.add(
                        &format!("{base}.fields.{j}.{key}"),
                        "BASE_TYPE_REQUIRED",
                        "This field is required",
                    );
                }
            }
        }
        for (path, value, max) in checks {
            let n = len(value);
            total += n;
            if n > max {
                errors.add(
                    &format!("{base}.{path}"),
                    "BASE_TYPE_MAX_LENGTH",
                    format!("Must be {max} or fewer in length."),
                );
            }
        }
        if fields.len() > 25 {
            errors.add(
                &format!("{base}.fields"),
                "BASE_TYPE_MAX_LENGTH",
                "Must be 25 or fewer in length.",
            );
        }
    }
    if total > 6000 {
        errors.add(
            "embeds",
            "MAX_EMBED_SIZE_EXCEEDED",
            "Embed size exceeds maximum size of 6000",
        );
    }
}

/// Checks legacy (non components-v2) message components ("Components: Action Row, Button"):
/// at most 5 action rows at the top level, each with at most 5 buttons or one select menu;
/// buttons with a valid style, a label of at most 80 characters, a `custom_id` of 1–100
/// characters unique in the message (and no `url`), or for link buttons a `url` and no
/// `custom_id`.
pub(crate) fn components(errors: &mut FormErrors, components: &[Value]) {
    if components.len() > 5 {
        errors.add(
            "components",
            "BASE_TYPE_MAX_LENGTH",
            "Must be 5 or fewer in length.",
        );
    }
    let mut seen: Vec<String> = Vec::new();
    for (i, row) in components.iter().enumerate() {
        let base = format!("components.{i}");
        if row["type"].as_u64() != Some(1) {
            errors.add(
                &format!("{base}.type"),
                "UNION_TYPE_CHOICES",
                "Top-level components must be action rows",
            );
            continue;
        }
        let children = row["components"].as_array().cloned().unwrap_or_default();
        if children.is_empty() || children.len() > 5 {
            errors.add(
                &format!("{base}.components"),
                "BASE_TYPE_BAD_LENGTH",
                "Must be between 1 and 5 in length.",
            );
        }
        let selects = children
            .iter()
            .filter(|c| matches!(c["type"].as_u64(), Some(3 | 5..=8)))
            .count();
        if selects > 0 && children.len() > 1 {
            errors.add(
                &format!("{base}.components"),
                "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                "The specified component exceeds the maximum width",
            );
        }
        for (j, child) in children.iter().enumerate() {
            let path = format!("{base}.components.{j}");
            let custom_id = child["custom_id"].as_str();
            if let Some(id) = custom_id {
                if !(1..=100).contains(&id.chars().count()) {
                    errors.add(
                        &format!("{path}.custom_id"),
                        "BASE_TYPE_BAD_LENGTH",
                        "Must be between 1 and 100 in length.",
                    );
                }
                if seen.iter().any(|s| s == id) {
                    errors.add(
                        &format!("{path}.custom_id"),
                        "COMPONENT_CUSTOM_ID_DUPLICATED",
                        "Component custom id cannot be duplicated",
                    );
                }
                seen.push(id.to_owned());
            }
            if child["type"].as_u64() != Some(2) {
                if custom_id.is_none() && child["type"].as_u64() != Some(1) {
                    errors.add(
                        &format!("{path}.custom_id"),
                        "BASE_TYPE_REQUIRED",
                        "This field is required",
                    );
                }
                continue;
            }
            let style = child["style"].as_u64().unwrap_or(0);
            if !(1..=6).contains(&style) {
                errors.add(
                    &format!("{path}.style"),
                    "BASE_TYPE_CHOICES",
                    "Value must be one of {1, 2, 3, 4, 5, 6}.",
                );
            }
            if child["label"]
                .as_str()
                .is_some_and(|l| l.chars().count() > 80)
            {
                errors.add(
                    &format!("{path}.label"),
                    "BASE_TYPE_MAX_LENGTH",
                    "Must be 80 or fewer in length.",
                );
            }
            let has_url = child.get("url").is_some_and(|u| !u.is_null());
            match style {
                5 if !has_url => errors.add(
                    &format!("{path}.url"),
                    "BASE_TYPE_REQUIRED",
                    "This field is required",
                ),
                5 if custom_id.is_some() => errors.add(
                    &format!("{path}.custom_id"),
                    "COMPONENT_INVALID_FIELD",
                    "Link buttons cannot have a custom_id",
                ),
                1..=4 if custom_id.is_none() => errors.add(
                    &format!("{path}.custom_id"),
                    "BASE_TYPE_REQUIRED",
                    "This field is required",
                ),
                1..=4 if has_url => errors.add(
                    &format!("{path}.url"),
                    "COMPONENT_INVALID_FIELD",
                    "Non-link buttons cannot have a url",
                ),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_input_names_follow_discords_pattern() {
        for good in ["setup", "reg-times", "ping_all", "設定", "ä1"] {
            assert!(is_valid_chat_input_name(good), "{good}");
        }
        for bad in ["", "Setup", "has space", "a.b", &"x".repeat(33)] {
            assert!(!is_valid_chat_input_name(bad), "{bad}");
        }
    }

    #[test]
    fn webhook_names_may_not_contain_discord_or_clyde() {
        let mut errors = FormErrors::new();
        webhook_name(&mut errors, "name", "My Discord Relay");
        webhook_name(&mut errors, "username", "CLYDE");
        let body = errors.finish().unwrap_err().body();
        assert_eq!(
            body["errors"]["name"]["_errors"][0]["code"],
            "USERNAME_INVALID_CONTAINS"
        );
        assert_eq!(
            body["errors"]["username"]["_errors"][0]["code"],
            "USERNAME_INVALID_CONTAINS"
        );
    }
}
