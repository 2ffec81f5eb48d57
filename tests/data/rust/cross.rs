// Calls a C function, and is called from C: both calls cross the language
// boundary and fat LTO inlines them.
extern "C" {
    fn c_square(x: i32) -> i32;
}

#[no_mangle]
pub extern "C" fn rust_add_one(x: i32) -> i32 {
    x.wrapping_add(1)
}

#[no_mangle]
pub extern "C" fn rust_calls_c(x: i32) -> i32 {
    unsafe { c_square(x) }.wrapping_mul(2)
}
