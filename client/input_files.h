#pragma once
// Expands the PATH arguments of `fovea classify` into the list of images to send.
//
// A file named on the command line is always an input (a non-image is sent and reported with the server's error).
// A folder is walked recursively in sorted order; files in it that are not PNG or JPEG (by their magic bytes) are
// skipped and counted. An argument with '*', '?' or '[' that does not exist as a path is a glob; each match is
// treated like a named file or folder. A path or glob that yields nothing is an input carrying that error.

#include <string>
#include <vector>

namespace fovea::client {

struct InputFile {
  std::string path;
  std::string error;  // set when the argument could not be resolved (missing file, glob without matches)
};

struct InputList {
  std::vector<InputFile> files;  // in argument order, folder contents sorted; each path at most once
  int skipped_non_images = 0;    // files found in folders that are not PNG or JPEG
};

InputList ExpandInputs(const std::vector<std::string>& arguments);

// True when the file starts with the PNG or JPEG signature.
bool LooksLikeImageFile(const std::string& path);

}  // namespace fovea::client
