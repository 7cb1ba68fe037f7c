import YTAutoApp

await CLIMain.run(YTAutoCommand.self)
