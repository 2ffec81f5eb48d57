pub fn run() -> Result<(), lto_engine::Error> { Ok(()) }
