//! EventBridge schedule expressions: `rate(…)` and six-field `cron(…)` (UTC,
//! with `?`, `L`, `W` and `#`), validated with clear errors, with the next
//! firing times computed, and the scheduled-event shape each firing delivers.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};

/// A parsed schedule expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Schedule {
    /// `rate(N unit)`: every `minutes` minutes from when the schedule starts.
    Rate {
        /// The interval, in minutes.
        minutes: u32,
    },
    /// `cron(…)`.
    Cron(Box<Cron>),
}

/// Day-of-month field.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Dom {
    Any,
    Days([bool; 32]),
    Last,
    LastWeekday,
    NearestWeekday(u32),
}

/// Day-of-week field (1 = Sunday … 7 = Saturday, as EventBridge counts).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Dow {
    Any,
    Days([bool; 8]),
    Last(u32),
    Nth(u32, u32),
}

/// A six-field cron expression: minutes hours day-of-month month day-of-week year.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cron {
    minutes: Vec<bool>,
    hours: Vec<bool>,
    dom: Dom,
    months: Vec<bool>,
    dow: Dow,
    years: Vec<bool>,
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
const YEAR_MIN: u32 = 1970;
const YEAR_MAX: u32 = 2199;

fn err(field: &str, message: impl std::fmt::Display) -> String {
    format!("cron {field} field: {message}")
}

/// Parses a value that may be a name.
fn value(
    field: &str,
    text: &str,
    names: &[&str],
    offset: u32,
    min: u32,
    max: u32,
) -> Result<u32, String> {
    let upper = text.to_ascii_uppercase();
    let n = match names.iter().position(|n| *n == upper) {
        Some(i) => i as u32 + offset,
        None => upper.parse::<u32>().map_err(|_| {
            err(
                field,
                format!(
                    "`{text}` is not a number{}",
                    if names.is_empty() { "" } else { " or a name" }
                ),
            )
        })?,
    };
    if !(min..=max).contains(&n) {
        return Err(err(field, format!("{n} is out of range {min}–{max}")));
    }
    Ok(n)
}

/// Parses lists of `*`, `N`, `A-B`, `*/S`, `A/S`, `A-B/S` into a set.
fn set(
    field: &str,
    text: &str,
    names: &[&str],
    offset: u32,
    min: u32,
    max: u32,
) -> Result<Vec<bool>, String> {
    let mut out = vec![false; max as usize + 1];
    for item in text.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => {
                let step: u32 = s
                    .parse()
                    .map_err(|_| err(field, format!("step `{s}` is not a number")))?;
                if step == 0 {
                    return Err(err(field, "a step must be at least 1"));
                }
                (r, step)
            }
            None => (item, 1),
        };
        let (lo, hi) = if range == "*" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            (
                value(field, a, names, offset, min, max)?,
                value(field, b, names, offset, min, max)?,
            )
        } else {
            let v = value(field, range, names, offset, min, max)?;
            (v, if item.contains('/') { max } else { v })
        };
        if lo > hi {
            return Err(err(field, format!("range `{range}` runs backwards")));
        }
        let mut v = lo;
        while v <= hi {
            out[v as usize] = true;
            v += step;
        }
    }
    Ok(out)
}

impl Schedule {
    /// Parses `rate(…)` or `cron(…)`.
    pub fn parse(expr: &str) -> Result<Self, String> {
        let expr = expr.trim();
        if let Some(inner) = expr.strip_prefix("rate(").and_then(|e| e.strip_suffix(')')) {
            let (n, unit) = inner
                .trim()
                .split_once(' ')
                .ok_or("rate expects `rate(value unit)`, such as rate(5 minutes)")?;
            let n: u32 = n
                .trim()
                .parse()
                .map_err(|_| format!("rate value `{n}` must be a positive whole number"))?;
            if n == 0 {
                return Err("rate value must be at least 1".into());
            }
            let unit = unit.trim();
            let (singular, per) = match unit {
                "minute" | "minutes" => ("minute", 1),
                "hour" | "hours" => ("hour", 60),
                "day" | "days" => ("day", 24 * 60),
                other => {
                    return Err(format!(
                        "rate unit `{other}` must be minute(s), hour(s) or day(s)"
                    ));
                }
            };
            if (n == 1) != (unit == singular) {
                return Err(format!(
                    "rate({n} {unit}): use `{singular}` for 1 and `{singular}s` otherwise"
                ));
            }
            return Ok(Self::Rate { minutes: n * per });
        }
        if let Some(inner) = expr.strip_prefix("cron(").and_then(|e| e.strip_suffix(')')) {
            return Cron::parse(inner).map(|c| Self::Cron(Box::new(c)));
        }
        Err("a schedule is `rate(value unit)` or `cron(minutes hours day-of-month month day-of-week year)`".into())
    }

    /// The next `n` firing times strictly after `after`. For a rate, the
    /// schedule is taken to start at `after`.
    pub fn next_firings(&self, after: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        match self {
            Self::Rate { minutes } => (1..=n as i64)
                .map(|k| after + Duration::minutes(k * i64::from(*minutes)))
                .collect(),
            Self::Cron(c) => c.next_firings(after, n),
        }
    }
}

impl Cron {
    fn parse(text: &str) -> Result<Self, String> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        let [min, hour, dom, month, dow, year] = fields.as_slice() else {
            return Err(format!(
                "cron needs six fields (minutes hours day-of-month month day-of-week year), found {}",
                fields.len()
            ));
        };
        if (*dom == "?") == (*dow == "?") {
            return Err("cron: exactly one of day-of-month and day-of-week must be `?`".into());
        }
        let dom = match *dom {
            "?" => Dom::Any,
            "L" => Dom::Last,
            "LW" => Dom::LastWeekday,
            d if d.ends_with('W') => {
                Dom::NearestWeekday(value("day-of-month", &d[..d.len() - 1], &[], 0, 1, 31)?)
            }
            d => {
                let s = set("day-of-month", d, &[], 0, 1, 31)?;
                let mut days = [false; 32];
                days.copy_from_slice(&s);
                Dom::Days(days)
            }
        };
        let dow = match *dow {
            "?" => Dow::Any,
            d if d.len() > 1 && d.ends_with('L') => {
                Dow::Last(value("day-of-week", &d[..d.len() - 1], &DAYS, 1, 1, 7)?)
            }
            d if d.contains('#') => {
                let (day, nth) = d.split_once('#').unwrap_or((d, ""));
                let day = value("day-of-week", day, &DAYS, 1, 1, 7)?;
                let nth: u32 = nth
                    .parse()
                    .map_err(|_| err("day-of-week", format!("`#{nth}` must be 1–5")))?;
                if !(1..=5).contains(&nth) {
                    return Err(err("day-of-week", format!("`#{nth}` must be 1–5")));
                }
                Dow::Nth(day, nth)
            }
            "L" => Dow::Last(7),
            d => {
                let s = set("day-of-week", d, &DAYS, 1, 1, 7)?;
                let mut days = [false; 8];
                days.copy_from_slice(&s);
                Dow::Days(days)
            }
        };
        Ok(Self {
            minutes: set("minutes", min, &[], 0, 0, 59)?,
            hours: set("hours", hour, &[], 0, 0, 23)?,
            dom,
            months: set("month", month, &MONTHS, 1, 1, 12)?,
            dow,
            years: set("year", year, &[], 0, YEAR_MIN, YEAR_MAX)?,
        })
    }

    fn day_matches(&self, date: NaiveDate) -> bool {
        if !self
            .years
            .get(date.year() as usize)
            .copied()
            .unwrap_or(false)
            || !self.months[date.month() as usize]
        {
            return false;
        }
        let last_day = last_day_of_month(date);
        let dom_ok = match &self.dom {
            Dom::Any => true,
            Dom::Days(days) => days[date.day() as usize],
            Dom::Last => date.day() == last_day,
            Dom::LastWeekday => date == nearest_weekday(date.with_day(last_day).unwrap_or(date)),
            Dom::NearestWeekday(d) => {
                let target = date.with_day((*d).min(last_day)).unwrap_or(date);
                date == nearest_weekday(target)
            }
        };
        let weekday = date.weekday().num_days_from_sunday() + 1;
        let dow_ok = match &self.dow {
            Dow::Any => true,
            Dow::Days(days) => days[weekday as usize],
            Dow::Last(d) => weekday == *d && date.day() + 7 > last_day,
            Dow::Nth(d, n) => weekday == *d && (date.day() - 1) / 7 + 1 == *n,
        };
        dom_ok && dow_ok
    }

    fn next_firings(&self, after: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        let mut out = Vec::new();
        let mut date = after.date_naive();
        while out.len() < n && date.year() as u32 <= YEAR_MAX {
            if self.day_matches(date) {
                for h in (0..24).filter(|h| self.hours[*h as usize]) {
                    for m in (0..60).filter(|m| self.minutes[*m as usize]) {
                        let Some(t) = date.and_hms_opt(h, m, 0).map(|t| Utc.from_utc_datetime(&t))
                        else {
                            continue;
                        };
                        if t > after && out.len() < n {
                            out.push(t);
                        }
                    }
                }
            }
            let Some(next) = date.succ_opt() else { break };
            date = next;
        }
        out
    }
}

fn last_day_of_month(date: NaiveDate) -> u32 {
    let (y, m) = (date.year(), date.month());
    let first_next = if m == 12 {
        NaiveDate::from_ymd_opt(y + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(y, m + 1, 1)
    };
    first_next
        .and_then(|d| d.pred_opt())
        .map_or(28, |d| d.day())
}

/// The weekday nearest to `date` within its month (as Quartz's `W`).
fn nearest_weekday(date: NaiveDate) -> NaiveDate {
    let last_day = last_day_of_month(date);
    match date.weekday() {
        Weekday::Sat => {
            if date.day() == 1 {
                date + Duration::days(2)
            } else {
                date - Duration::days(1)
            }
        }
        Weekday::Sun => {
            if date.day() == last_day {
                date - Duration::days(2)
            } else {
                date + Duration::days(1)
            }
        }
        _ => date,
    }
}

/// The event a schedule delivers (EventBridge's `Scheduled Event`).
pub fn scheduled_event(rule: &str, time: DateTime<Utc>, id: &str) -> serde_json::Value {
    serde_json::json!({
        "version": "0",
        "id": id,
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": crate::model::account::ACCOUNT_ID,
        "time": time.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "region": crate::model::account::REGION,
        "resources": [format!("arn:aws:events:{}:{}:rule/{rule}", crate::model::account::REGION, crate::model::account::ACCOUNT_ID)],
        "detail": {},
    })
}

/// Schedules and the functions they invoke; `due` says which fire at a time.
#[derive(Clone, Debug)]
pub struct Timetable {
    entries: Vec<(String, Schedule, String, DateTime<Utc>)>,
}

impl Timetable {
    /// Starts every schedule at `start`. Each entry: (rule name, schedule, function).
    pub fn new(entries: Vec<(String, Schedule, String)>, start: DateTime<Utc>) -> Self {
        let entries = entries
            .into_iter()
            .filter_map(|(rule, s, f)| {
                let next = s.next_firings(start, 1).into_iter().next()?;
                Some((rule, s, f, next))
            })
            .collect();
        Self { entries }
    }

    /// The earliest next firing.
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        self.entries.iter().map(|e| e.3).min()
    }

    /// The firings due at `now`: (rule, function, firing time); each
    /// schedule then moves on to its next firing after `now` (missed firings
    /// while asleep are not replayed, as EventBridge does not).
    pub fn due(&mut self, now: DateTime<Utc>) -> Vec<(String, String, DateTime<Utc>)> {
        let mut fired = Vec::new();
        self.entries.retain_mut(|(rule, schedule, function, next)| {
            if *next > now {
                return true;
            }
            fired.push((rule.clone(), function.clone(), *next));
            let following = match schedule {
                Schedule::Rate { minutes } => {
                    let step = Duration::minutes(i64::from(*minutes));
                    let mut t = *next + step;
                    while t <= now {
                        t += step;
                    }
                    Some(t)
                }
                Schedule::Cron(c) => c.next_firings(now, 1).into_iter().next(),
            };
            match following {
                Some(t) => {
                    *next = t;
                    true
                }
                None => false,
            }
        });
        fired
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn next(expr: &str, from: &str, n: usize) -> Vec<String> {
        Schedule::parse(expr)
            .unwrap()
            .next_firings(at(from), n)
            .iter()
            .map(|t| t.format("%Y-%m-%d %H:%M %a").to_string())
            .collect()
    }

    #[test]
    fn rates() {
        assert_eq!(
            Schedule::parse("rate(5 minutes)").unwrap(),
            Schedule::Rate { minutes: 5 }
        );
        assert_eq!(
            Schedule::parse("rate(1 day)").unwrap(),
            Schedule::Rate { minutes: 1440 }
        );
        assert!(
            Schedule::parse("rate(1 minutes)")
                .unwrap_err()
                .contains("use `minute` for 1")
        );
        assert!(Schedule::parse("rate(0 hours)").is_err());
        assert_eq!(
            next("rate(2 hours)", "2025-01-01T00:00:00Z", 2),
            ["2025-01-01 02:00 Wed", "2025-01-01 04:00 Wed"]
        );
    }

    #[test]
    fn cron_basics_and_names() {
        // 10:15 UTC every weekday.
        assert_eq!(
            next("cron(15 10 ? * MON-FRI *)", "2025-01-03T11:00:00Z", 3),
            [
                "2025-01-06 10:15 Mon",
                "2025-01-07 10:15 Tue",
                "2025-01-08 10:15 Wed"
            ]
        );
        // Every 20 minutes between 8 and 9.
        assert_eq!(
            next("cron(0/20 8 * * ? *)", "2025-01-01T00:00:00Z", 4),
            [
                "2025-01-01 08:00 Wed",
                "2025-01-01 08:20 Wed",
                "2025-01-01 08:40 Wed",
                "2025-01-02 08:00 Thu"
            ]
        );
    }

    #[test]
    fn cron_l_w_and_hash() {
        // Last day of the month.
        assert_eq!(
            next("cron(0 12 L * ? *)", "2024-02-01T00:00:00Z", 2),
            ["2024-02-29 12:00 Thu", "2024-03-31 12:00 Sun"]
        );
        // Last weekday of the month: 2025-05-31 is a Saturday.
        assert_eq!(
            next("cron(0 9 LW * ? *)", "2025-05-01T00:00:00Z", 1),
            ["2025-05-30 09:00 Fri"]
        );
        // Weekday nearest the 15th: 2025-03-15 is a Saturday.
        assert_eq!(
            next("cron(0 9 15W * ? *)", "2025-03-01T00:00:00Z", 1),
            ["2025-03-14 09:00 Fri"]
        );
        // Second Tuesday (3#2).
        assert_eq!(
            next("cron(0 18 ? * 3#2 *)", "2025-01-01T00:00:00Z", 2),
            ["2025-01-14 18:00 Tue", "2025-02-11 18:00 Tue"]
        );
        // Last Friday (6L).
        assert_eq!(
            next("cron(0 8 ? * 6L *)", "2025-01-01T00:00:00Z", 1),
            ["2025-01-31 08:00 Fri"]
        );
    }

    #[test]
    fn cron_errors_are_clear() {
        assert!(
            Schedule::parse("cron(0 10 * * *)")
                .unwrap_err()
                .contains("six fields")
        );
        assert!(
            Schedule::parse("cron(0 10 * * MON *)")
                .unwrap_err()
                .contains("exactly one of day-of-month and day-of-week")
        );
        assert_eq!(
            Schedule::parse("cron(61 10 * * ? *)").unwrap_err(),
            "cron minutes field: 61 is out of range 0–59"
        );
        assert!(
            Schedule::parse("cron(0 10 ? FOO MON *)")
                .unwrap_err()
                .contains("month field")
        );
        assert!(Schedule::parse("every day").is_err());
        // Never fires again: an empty list, quickly.
        assert!(next("cron(0 0 1 1 ? 1999)", "2025-01-01T00:00:00Z", 1).is_empty());
    }

    #[test]
    fn timetable_fires_when_due() {
        let start = at("2025-01-01T00:00:00Z");
        let mut t = Timetable::new(
            vec![
                (
                    "every-5".into(),
                    Schedule::parse("rate(5 minutes)").unwrap(),
                    "a".into(),
                ),
                (
                    "hourly".into(),
                    Schedule::parse("cron(0 * * * ? *)").unwrap(),
                    "b".into(),
                ),
            ],
            start,
        );
        assert_eq!(t.next_due(), Some(at("2025-01-01T00:05:00Z")));
        assert!(t.due(at("2025-01-01T00:04:59Z")).is_empty());
        let fired = t.due(at("2025-01-01T00:05:00Z"));
        assert_eq!(
            fired,
            [(
                "every-5".to_owned(),
                "a".to_owned(),
                at("2025-01-01T00:05:00Z")
            )]
        );
        let fired: Vec<String> = t
            .due(at("2025-01-01T01:00:30Z"))
            .into_iter()
            .map(|f| f.1)
            .collect();
        assert_eq!(fired, ["a", "b"]);
        assert_eq!(t.next_due(), Some(at("2025-01-01T01:05:00Z")));
    }

    #[test]
    fn event_shape() {
        let e = scheduled_event("nightly", at("2025-01-01T00:00:00Z"), "abc");
        assert_eq!(e["detail-type"], "Scheduled Event");
        assert_eq!(e["time"], "2025-01-01T00:00:00Z");
        assert_eq!(
            e["resources"][0],
            "arn:aws:events:us-east-1:123456789012:rule/nightly"
        );
    }
}
