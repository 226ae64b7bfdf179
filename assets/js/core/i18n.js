// Translations. Every visible string comes from a message catalogue (assets/js/i18n/<code>.js)
// by key; a catalogue entry is a string with `{name}` placeholders, or, for counts, an object
// of plural forms chosen by Intl.PluralRules (`one`, `other`, and `zero`/`two`/`few`/`many`
// where the language has them). Dates and numbers go through Intl. The language is the
// user's profile choice (`locale` from GET /me), else the first of the browser's languages we
// have, else English. No page globals here: `node --test` runs it (e2e/unit/i18n.test.mjs).
//
// To add a language: copy i18n/en.js to i18n/<code>.js, translate every entry (the unit test
// fails on a missing or extra key, or a placeholder that does not match), and list it in
// LANGUAGES below and in the server's `domain::LOCALES` (docs/client.md says it step by step).

/** The languages we have, with their writing direction and their own name. Each one's
 * catalogue is loaded when it is needed (`loadI18n`): the page fetches only its own. */
export const LANGUAGES = {
  en: { name: "English", dir: "ltr" },
  es: { name: "Español", dir: "ltr" },
  de: { name: "Deutsch", dir: "ltr" },
  fr: { name: "Français", dir: "ltr" },
  ar: { name: "العربية", dir: "rtl" },
};

/** A language's catalogue (its module's default export). */
export async function catalogue(code) {
  return (await import(`../i18n/${code}.js`)).default;
}

/** The translations for a language we have (else English), with its catalogue loaded. */
export async function loadI18n(code) {
  const locale = LANGUAGES[code] ? code : "en";
  return new I18n(locale, await catalogue(locale));
}

/** The language to use: the profile's choice, else the browser's first we have, else English. */
export function resolveLocale(profileLocale, browserLanguages = []) {
  if (profileLocale && LANGUAGES[profileLocale]) return profileLocale;
  for (const tag of browserLanguages) {
    const base = String(tag).toLowerCase().split("-")[0];
    if (LANGUAGES[base]) return base;
  }
  return "en";
}

export class I18n {
  constructor(locale, messages) {
    this.locale = locale;
    this.dir = LANGUAGES[locale].dir;
    this.messages = messages;
    this.plurals = new Intl.PluralRules(this.locale);
    this.numbers = new Intl.NumberFormat(this.locale);
  }

  /** The text of `key`, with `{name}` replaced from `params` (`count` also picks the plural). */
  t(key, params = {}) {
    let entry = this.messages[key];
    if (entry === undefined) return key;
    if (typeof entry === "object") {
      const count = Number(params.count ?? 0);
      entry = entry[this.plurals.select(count)] ?? entry.other;
    }
    return entry.replace(/\{(\w+)\}/g, (whole, name) => {
      if (!(name in params)) return whole;
      const value = params[name];
      return typeof value === "number" ? this.numbers.format(value) : String(value);
    });
  }

  /** Is there a text for `key`? */
  has(key) {
    return key in this.messages;
  }

  /** What to show for a server error: our text for its stable code, else the server's own. */
  error(code, serverMessage = "") {
    const key = `error.${code}`;
    return this.has(key) ? this.t(key) : serverMessage || this.t("error.internal");
  }

  /** A number in the user's language ("1,234", "1 234"). */
  number(value) {
    return this.numbers.format(value);
  }

  /** A date and time in the user's language. */
  dateTime(value) {
    return this.format("dateTime", { dateStyle: "medium", timeStyle: "short" }, value);
  }

  /** A time of day ("14:05", "2:05 PM"). */
  time(value) {
    return this.format("time", { hour: "numeric", minute: "2-digit" }, value);
  }

  /** A date ("7 December 2026"). */
  date(value) {
    return this.format("date", { dateStyle: "long" }, value);
  }

  /** A whole day ("Monday, 7 December 2026"). */
  day(value) {
    return this.format("day", { weekday: "long", year: "numeric", month: "long", day: "numeric" }, value);
  }

  /** A file size in the language's units ("1.5 MB", "820 kB"). */
  size(bytes) {
    const units = [["byte", 1], ["kilobyte", 1e3], ["megabyte", 1e6], ["gigabyte", 1e9]];
    const [unit, scale] = units.findLast(([, s]) => bytes >= s) || units[0];
    this.sizes ??= {};
    this.sizes[unit] ??= new Intl.NumberFormat(this.locale, {
      style: "unit", unit, unitDisplay: "short", maximumFractionDigits: unit === "byte" ? 0 : 1,
    });
    return this.sizes[unit].format(bytes / scale);
  }

  /** Names joined the language's way ("ana, bob and cleo"). */
  list(names) {
    this.listFormat ??= new Intl.ListFormat(this.locale, { style: "long", type: "conjunction" });
    return this.listFormat.format(names);
  }

  format(name, options, value) {
    this.formats ??= {};
    this.formats[name] ??= new Intl.DateTimeFormat(this.locale, options);
    return this.formats[name].format(new Date(value));
  }
}
