//! The colours that mean the same everywhere in the app: cold and warm
//! starts, errors, warnings and success. Marks on charts use the constants;
//! text uses the functions, which pick a shade per theme that keeps a
//! contrast of at least 4.5:1 (WCAG AA) on the panel's background (a test
//! checks it).

use egui::Color32;

/// Colour of cold starts on charts.
pub const COLD: Color32 = Color32::from_rgb(0x4a, 0x90, 0xe2);
/// Colour of warm starts on charts.
pub const WARM: Color32 = Color32::from_rgb(0xf5, 0xa6, 0x23);
/// Colour of errors on charts and borders.
pub const ERROR: Color32 = Color32::from_rgb(0xe0, 0x4f, 0x4f);
/// Colour of success on charts.
pub const OK: Color32 = Color32::from_rgb(0x3f, 0xb9, 0x50);

/// Text meaning a cold start.
pub fn cold(dark: bool) -> Color32 {
    if dark {
        Color32::from_rgb(0x6a, 0xa9, 0xff)
    } else {
        Color32::from_rgb(0x1a, 0x5f, 0xb4)
    }
}

/// Text meaning a warm start or a warning.
pub fn warm(dark: bool) -> Color32 {
    if dark {
        WARM
    } else {
        Color32::from_rgb(0x8a, 0x4f, 0x00)
    }
}

/// Text meaning an error.
pub fn error(dark: bool) -> Color32 {
    if dark {
        Color32::from_rgb(0xff, 0x6b, 0x6b)
    } else {
        Color32::from_rgb(0xc0, 0x1c, 0x28)
    }
}

/// Text meaning success.
pub fn ok(dark: bool) -> Color32 {
    if dark {
        Color32::from_rgb(0x4c, 0xc7, 0x64)
    } else {
        Color32::from_rgb(0x1a, 0x7a, 0x34)
    }
}

/// Text of platform lines (START, END, REPORT): quieter than the function's
/// own, still readable.
pub fn platform(dark: bool) -> Color32 {
    if dark {
        Color32::from_gray(0x9a)
    } else {
        Color32::from_gray(0x5e)
    }
}

/// Every text colour with its name, for the contrast check.
pub fn text_colours(dark: bool) -> [(&'static str, Color32); 5] {
    [
        ("cold", cold(dark)),
        ("warm", warm(dark)),
        ("error", error(dark)),
        ("ok", ok(dark)),
        ("platform", platform(dark)),
    ]
}

/// WCAG's contrast ratio of two opaque colours (1 to 21).
pub fn contrast(a: Color32, b: Color32) -> f64 {
    fn luminance(c: Color32) -> f64 {
        let ch = |v: u8| {
            let v = f64::from(v) / 255.0;
            if v <= 0.039_28 {
                v / 12.92
            } else {
                ((v + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * ch(c.r()) + 0.7152 * ch(c.g()) + 0.0722 * ch(c.b())
    }
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}
