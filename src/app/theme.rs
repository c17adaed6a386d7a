//! The colours that mean the same everywhere in the app: cold and warm
//! starts, errors and success.

use egui::Color32;

/// Colour of cold starts everywhere.
pub const COLD: Color32 = Color32::from_rgb(0x4a, 0x90, 0xe2);
/// Colour of warm starts everywhere.
pub const WARM: Color32 = Color32::from_rgb(0xf5, 0xa6, 0x23);
/// Colour of errors.
pub const ERROR: Color32 = Color32::from_rgb(0xe0, 0x4f, 0x4f);
/// Colour of success.
pub const OK: Color32 = Color32::from_rgb(0x3f, 0xb9, 0x50);
