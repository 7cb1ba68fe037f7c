import Foundation
import YTAutoMedia

extension AppConfig {
    /// The jobs' work and output folders, resolved as the worker resolves `work_dir` and
    /// `output_dir` (``PipelineChoice/make``): relative to the current directory.
    func jobFolders(currentDirectory: String = FileManager.default.currentDirectoryPath) -> JobFolders {
        let cwd = URL(fileURLWithPath: currentDirectory)
        return JobFolders(work: URL(fileURLWithPath: workDirectory, relativeTo: cwd).standardizedFileURL,
                          output: URL(fileURLWithPath: outputDirectory, relativeTo: cwd).standardizedFileURL)
    }
}
